#!/usr/bin/env bash
# make run: start PostgreSQL and Redis, build, migrate, seed a demo shop, then run the
# web server and the worker in one process (bin/loyalty all).
#
# Overridable: DATABASE_URL, REDIS_URL, APP_URL, HTTP_ADDR, SHOPIFY_API_SECRET, PG_PORT, REDIS_PORT.
set -euo pipefail

# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$LOYALTY_ROOT"

DEMO_SHOP="demo-shop.myshopify.com"
DEMO_STORE="demo-store.example"
DEMO_CUSTOMER="7770001"

scripts/services.sh up

log "building bin/loyalty"
go build -o bin/loyalty .

export_app_env
export APP_URL="${APP_URL:-http://127.0.0.1:8080}"
export HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:8080}"
export SHOPIFY_API_SECRET="${SHOPIFY_API_SECRET:-demo-shopify-secret}"
APP_URL="${APP_URL%/}"

log "applying migrations"
bin/loyalty migrate up

log "ensuring the demo shop ${DEMO_SHOP}"
bin/loyalty shops add --platform shopify --domain "$DEMO_SHOP" --name "Demo Shop" \
	--currency USD --signup-bonus 50 --if-missing

log "ensuring the demo WooCommerce store ${DEMO_STORE}"
bin/loyalty shops add --platform woocommerce --url "https://${DEMO_STORE}" --name "Demo Store" \
	--currency EUR --signup-bonus 25 --webhook-secret demo-woocommerce-secret --if-missing

# One line that gives another terminal the same environment as the server below.
env_line="cd $(printf '%q' "$LOYALTY_ROOT") && export"
for v in DATABASE_URL REDIS_URL APP_URL SHOPIFY_API_SECRET; do
	env_line+=" ${v}=$(printf '%q' "${!v}")"
done

cat <<BANNER

================================================================================
 Loyalty app
   App:        ${APP_URL}   (listening on ${HTTP_ADDR})
   Health:     ${APP_URL}/healthz   ${APP_URL}/readyz   ${APP_URL}/metrics
   Webhooks:   ${APP_URL}/webhooks/shopify (Shopify), per store for WooCommerce (bin/loyalty shops list)
   Demo shop:  ${DEMO_SHOP} (Shopify), ${DEMO_STORE} (WooCommerce, webhook secret demo-woocommerce-secret)
   Shopify secret (webhook HMAC): ${SHOPIFY_API_SECRET}
   Database:   ${DATABASE_URL}
   Redis:      ${REDIS_URL}

 Try it from another terminal:
   ${env_line}
   bin/loyalty simulate orders/paid --shop ${DEMO_SHOP} --customer ${DEMO_CUSTOMER} --amount 120.00
   bin/loyalty points show --shop ${DEMO_SHOP} --customer ${DEMO_CUSTOMER}
   bin/loyalty simulate order.created --platform woocommerce --shop ${DEMO_STORE} --customer 77 --amount 80.00
   bin/loyalty points show --platform woocommerce --shop ${DEMO_STORE} --customer 77

 Stop with Ctrl-C; stop the databases with: make services-down
================================================================================

BANNER

exec bin/loyalty all
