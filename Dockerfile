# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts
COPY gateway ./gateway
COPY plugins ./plugins
COPY test ./test
COPY config ./config
COPY console ./console
RUN npx tsc -p tsconfig.json && npm run build:console && rm -rf dist/test

# Runtime stage: production dependencies and compiled output only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
RUN mkdir -p /etc/hookgate && cp config/gateway.yaml /etc/hookgate/gateway.yaml && cp -r config/my-plugins /etc/hookgate/my-plugins \
    && sed -i 's/host: 127.0.0.1, port: 8080/host: 0.0.0.0, port: 8080/' /etc/hookgate/gateway.yaml \
    && grep -q 'listen: { host: 0.0.0.0, port: 8080 }' /etc/hookgate/gateway.yaml \
    && chown -R node:node /etc/hookgate
USER node
# The main listener. The admin listener stays on the container's loopback; a `metrics` listener
# (e.g. 9464) is published only if your config declares one.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD node -e "require('http').get('http://127.0.0.1:8080/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
# On 0.0.0.0 the example config's published secrets are refused (HG_EXAMPLE_SECRETS): set
# HOOKGATE_ADMIN_TOKEN, GITHUB_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, ORDERS_WEBHOOK_SECRET and
# PUBLISHER_API_KEY, mount your own config, or add --allow-example-secrets for a throwaway demo.
ENTRYPOINT ["node", "dist/gateway/cli.js"]
CMD ["start", "--config", "/etc/hookgate/gateway.yaml"]
