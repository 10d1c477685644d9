# The load balancer kind puts in front of HA control planes, from Debian's haproxy.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy procps \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
COPY haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg
COPY haproxy-entrypoint.sh /usr/local/bin/haproxy-entrypoint
RUN chmod 0755 /usr/local/bin/haproxy-entrypoint
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/usr/local/bin/haproxy-entrypoint"]
