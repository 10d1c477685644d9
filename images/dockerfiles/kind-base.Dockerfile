# faultline's kind base image: Debian packages only (systemd, containerd, runc, CNI plugins, iptables).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
ENV container=docker DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      systemd systemd-sysv dbus containerd runc containernetworking-plugins \
      iptables nftables conntrack ebtables ethtool socat iproute2 iputils-ping util-linux mount \
      procps kmod ca-certificates libseccomp2 bash curl jq \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
# only the units a node needs: containerd, kubelet, journald, dbus
RUN find /lib/systemd/system/sysinit.target.wants/ -name 'systemd-tmpfiles-setup.service' -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo 'ReadKMsg=no' >>/etc/systemd/journald.conf
COPY files/ /
RUN systemctl enable containerd.service kubelet.service \
 && mkdir -p /opt/cni/bin /etc/cni/net.d /kind /etc/containerd/certs.d \
 && ln -sf /usr/lib/cni/* /opt/cni/bin/
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/faultline-node-entrypoint", "/sbin/init"]
