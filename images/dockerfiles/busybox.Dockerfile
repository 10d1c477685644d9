# A busybox image from Debian's busybox-static.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static
FROM scratch
COPY --from=build /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/sh", "-c", "mkdir -p /etc /tmp /root && echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd && echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd && echo 'root:x:0:' >/etc/group && echo 'nogroup:x:65534:' >>/etc/group && chmod 1777 /tmp"]
CMD ["sh"]
