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

# The demo shop's rewards, once: a later `make run` leaves a catalogue alone.
if [[ "$(bin/loyalty rewards list --shop "$DEMO_SHOP" | wc -l)" -le 1 ]]; then
	log "adding the demo shop's rewards"
	bin/loyalty rewards add --shop "$DEMO_SHOP" --name "5 USD off" --kind fixed_amount --points 500 --amount 5.00
	bin/loyalty rewards add --shop "$DEMO_SHOP" --name "Points off your order" --kind variable_amount \
		--points-per-unit 100 --min-points 100
	bin/loyalty rewards add --shop "$DEMO_SHOP" --name "Free shipping" --kind free_shipping --points 300
	bin/loyalty rewards add --shop "$DEMO_SHOP" --name "10% off" --kind percentage --points 800 --percentage 10
fi

# The demo shop's staff, once: an owner and a support member to sign in to
# the console as (demo passwords: this is a local demo only).
DEMO_OWNER="owner@demo.example" DEMO_SUPPORT="support@demo.example" DEMO_PASSWORD="demo-console-password"
staff_list="$(bin/loyalty staff list --shop "$DEMO_SHOP")"
if ! grep -q "$DEMO_OWNER" <<<"$staff_list"; then
	STAFF_PASSWORD="$DEMO_PASSWORD" bin/loyalty staff add --shop "$DEMO_SHOP" --email "$DEMO_OWNER" --name "Olga Owner" --role owner
fi
if ! grep -q "$DEMO_SUPPORT" <<<"$staff_list"; then
	STAFF_PASSWORD="$DEMO_PASSWORD" bin/loyalty staff add --shop "$DEMO_SHOP" --email "$DEMO_SUPPORT" --name "Sam Support" --role support
fi

# seed_demo_history gives the demo shopper a history through the real path
# (signed webhooks → queue → ledger) once the server below answers: a signup
# bonus, two paid orders and a partial refund, 620 points in all. Fixed
# delivery, order and refund ids make every re-run a no-op: intake drops
# repeated deliveries and the ledger applies an order, refund or signup once.
seed_demo_history() {
	local seedlog=".data/demo-seed.log" tries=0
	: >"$seedlog"
	until bin/loyalty simulate customers/create --shop "$DEMO_SHOP" --customer "$DEMO_CUSTOMER" \
		--email ada@example.com --delivery-id "demo-seed-customer-${DEMO_CUSTOMER}" >>"$seedlog" 2>&1; do
		if ((++tries > 150)); then
			warn "could not seed the demo shopper's history (see ${seedlog})"
			return
		fi
		sleep 0.2
	done
	bin/loyalty simulate orders/paid --shop "$DEMO_SHOP" --customer "$DEMO_CUSTOMER" --email ada@example.com \
		--order 7770000000001001 --amount 120.00 --delivery-id demo-seed-order-1001 >>"$seedlog" 2>&1 &&
		bin/loyalty simulate orders/paid --shop "$DEMO_SHOP" --customer "$DEMO_CUSTOMER" --email ada@example.com \
			--order 7770000000001002 --amount 480.00 --delivery-id demo-seed-order-1002 >>"$seedlog" 2>&1 &&
		bin/loyalty simulate refunds/create --shop "$DEMO_SHOP" --customer "$DEMO_CUSTOMER" \
			--order 7770000000001002 --refund 7770000000002001 --amount 30.00 --delivery-id demo-seed-refund-2001 >>"$seedlog" 2>&1 ||
		warn "could not seed the demo shopper's history (see ${seedlog})"
}

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
   Console:    ${APP_URL}/console/   (shop ${DEMO_SHOP}; ${DEMO_OWNER} or ${DEMO_SUPPORT}, password ${DEMO_PASSWORD})
   Queues:     ${APP_URL}/console/queues/   (staff login: staff / staff, unless CONSOLE_USERS is set)
   Webhooks:   ${APP_URL}/webhooks/shopify (Shopify), per store for WooCommerce (bin/loyalty shops list)
   Storefront: ${APP_URL}/demo   (the widget for shopper ${DEMO_CUSTOMER}; ?locale=pl|ru|lv|ro, ?layout=inline, ?guest=1)
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

# Seeded in the background: the exec below keeps the server in the
# foreground, where Ctrl-C stops it.
seed_demo_history &
exec bin/loyalty all
