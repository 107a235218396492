# Multi-stage build: compile TypeScript with the dev dependencies, ship only the runtime ones,
# run as the unprivileged `node` user. One image; each container picks its services (SERVICES).
FROM node:22-bookworm-slim AS build
WORKDIR /app
# sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts shop.ts ./
COPY lib ./lib
COPY mixins ./mixins
COPY services ./services
RUN npm run build && npm prune --omit=dev

# The storefront: its own packages, built into web/dist (static files the gateway serves at /).
FROM node:22-bookworm-slim AS web
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/app/data \
    PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=web --chown=node:node /app/web/dist ./web/dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
STOPSIGNAL SIGTERM
# AsyncLocalStorage (request ids in logs) without async_hooks' cost on every socket and promise:
# the default from Node 24, behind this flag on Node 22.
CMD ["node", "--experimental-async-context-frame", "--enable-source-maps", "dist/shop.js"]
