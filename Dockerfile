# ib-bridge images on Debian bookworm: one build stage, one slim runtime with all three binaries
# (ib-bridge, ib-bridge-http, ib-sim). docker-compose.yml picks the command per service.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libnats-dev libmsgpack-dev libconfig-dev libcriterion-dev \
      libuv1-dev libwebsockets-dev libjansson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY adapter ./adapter
COPY tests ./tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" \
 && mkdir -p /out \
 && for b in app/ib-bridge http/ib-bridge-http sim/ib-sim; do \
      if [ -x "/build/adapter/$b" ]; then cp "/build/adapter/$b" /out/; fi; done

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnats3.4 libmsgpackc2 libconfig9 libuv1 libwebsockets17 libjansson4 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 ibb
COPY --from=build /out/ /usr/local/bin/
COPY nats /etc/ib-bridge/nats
USER ibb
EXPOSE 8080
CMD ["ib-bridge-http"]
