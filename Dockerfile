# Tocsin's image: the compiled JavaScript and the production dependencies, nothing else.
#   docker build -t tocsin .          (docker compose up builds it by itself)

# Build stage: every dependency, the TypeScript compiled to dist/, then the dev ones pruned.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The `prepare` script builds dist/ from sources that are not copied yet: it runs below instead.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Run stage.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY templates ./templates
COPY config ./config
# Uploads (console.uploadsDir, data/uploads) and the .eml outbox (var/outbox) are written here.
RUN mkdir -p data var && chown node:node data var
USER node
EXPOSE 8080
# Exec form: node is the container's main process and receives `docker stop`'s SIGTERM itself,
# so Tocsin finishes the jobs it holds before it exits (compose adds `init: true` as well).
CMD ["node", "bin/tocsin.js", "start"]
