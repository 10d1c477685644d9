# nginx from Debian (nginx-light: http_ssl, proxy and the ssl upstream options) for the mutual-TLS scenarios.
# The configuration comes from a ConfigMap and the certificates from Secrets; nginx reads both only when it
# starts, which is what leaves a pod serving stale certificates after its Secret changes.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
EXPOSE 8443
CMD ["nginx", "-g", "daemon off;"]
