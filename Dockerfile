# syntax=docker/dockerfile:1
# The base: Node 24 LTS on Debian bookworm. Any image with node and npm on PATH will do, e.g. the
# one `npm run test:image` makes without a registry: --build-arg BASE=localhost/hookgate-base:24
ARG BASE=node:24-bookworm-slim

# Build stage: compile with the build config (the gateway and its plugins, no tests, no source
# maps; whatever else `npm run build` builds comes along, since the whole context is copied and
# .dockerignore keeps node_modules, dist and caches out), then drop the dev dependencies.
FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/test && find dist -name '*.map' -delete \
    && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime stage: production dependencies and compiled output only.
FROM ${BASE}
# tini as PID 1 forwards SIGTERM to hookgate (which drains) and reaps zombies. Debian's package,
# unless the base has it already.
RUN command -v tini >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; }
ENV NODE_ENV=production HOOKGATE_CONFIG=/etc/hookgate/gateway.yaml
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY config/docker.yaml /etc/hookgate/gateway.yaml
# A numeric uid (not a name): Kubernetes' runAsNonRoot can check it, and it needs no passwd entry.
# Everything above is root-owned and world-readable; hookgate only reads its config.
USER 10001:10001
# The main listener and the admin listener (config/docker.yaml; HOOKGATE_PORT and
# HOOKGATE_ADMIN_PORT move them). A `metrics` listener is published only if your config declares one.
EXPOSE 8080 8081
# Reads the config named by HOOKGATE_CONFIG and asks its main listener's /healthz, so the check
# follows the configured port (and TLS). Mount your config elsewhere? Set HOOKGATE_CONFIG too.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/dist/gateway/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/gateway/cli.js"]
CMD ["start", "--config", "/etc/hookgate/gateway.yaml"]
