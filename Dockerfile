# One image for the three programs; docker-compose.yml picks the command.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config libevent-dev libjansson-dev libpq-dev libzmq3-dev \
        libssl-dev libcurl4-openssl-dev libjemalloc-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make -j2 all && make install PREFIX=/opt/wa

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libjansson4 libpq5 \
        libzmq5 libssl3 libcurl4 libjemalloc2 ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd -r -M -s /usr/sbin/nologin wa && install -d -o wa /usr/local/wamedia /var/lib/wa
COPY --from=build /opt/wa/bin/ /usr/local/bin/
USER wa
