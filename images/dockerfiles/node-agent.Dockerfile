# faultline's node agent: what a node-level fault runs on a node it reaches through the API (a privileged pod with
# the host's PID namespace). nsenter enters the node's namespaces for commands that act on the node; strace,
# kept in the agent's own filesystem, delays a node process's syscalls from there. socat serves the channel that
# reaches the agent while the API server is down (mutual TLS on a node port; harness/cluster/agent-channel.ts).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      util-linux strace procps socat \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
CMD ["sleep", "infinity"]
