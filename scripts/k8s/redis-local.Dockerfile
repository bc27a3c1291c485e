# Stand-in for docker.io/library/redis where no registry is reachable (podman here): Debian's
# redis-server on the same base as the services. Only compose-smoke uses it; the chart and
# docker-compose.yml default to the official image.
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
# the official image's uid, which docker-compose.yml and the chart run Redis as
USER 999:999
EXPOSE 6379
CMD ["redis-server", "--save", "", "--appendonly", "no", "--dir", "/tmp"]
