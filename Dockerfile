# The demo app for docker-compose.yml: one stateless instance; sessions and the products cache live
# in Redis, the products in PostgreSQL.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY demo/server.ts demo/app.ts demo/metrics.ts demo/pages.ts demo/users.ts demo/catalogue.ts \
  demo/productRoutes.ts ./demo/
RUN npm run build
ENV HOST=0.0.0.0 PORT=3000 NODE_ENV=production
EXPOSE 3000
USER node
CMD ["node", "--import", "tsx", "demo/server.ts"]
