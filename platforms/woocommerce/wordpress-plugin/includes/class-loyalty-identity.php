<?php
/**
 * Signs the logged-in shopper's identity for the Loyalty Points app.
 *
 * Token format (version 1), matched exactly by the app's Go verifier
 * (platforms/woocommerce/identity.go, VerifyIdentity):
 *
 *     v1.<store_key>.<customer_id>.<expires>.<signature>
 *
 *     store_key    1-64 characters of [A-Za-z0-9_-], as the app shows it
 *     customer_id  the WordPress user id: decimal, no leading zero, not 0
 *     expires      Unix seconds: decimal, no leading zero
 *     signature    base64url without padding of the raw HMAC-SHA256 of
 *                  "loyalty-widget|v1|<store_key>|<customer_id>|<expires>"
 *                  keyed with the store's widget secret
 *
 * The app refuses tokens that have expired (30 seconds of clock skew
 * allowed) or that claim to live more than 24 hours.
 *
 * @package Loyalty_Points
 */

defined( 'ABSPATH' ) || exit;

/**
 * Returns the identity token for a customer, or '' when an input is outside
 * the format (the caller then treats the shopper as a guest).
 *
 * @param string     $secret      The store's widget secret.
 * @param string     $store_key   The app's key for this store.
 * @param int|string $customer_id The WordPress user id (1 or more).
 * @param int|string $expires     Unix time the token stops being valid.
 * @return string The token, or '' if it cannot be made.
 */
function loyalty_points_sign_identity( $secret, $store_key, $customer_id, $expires ) {
	// Strings and integers only: (string) true is "1", a real user's id.
	if ( ! is_string( $secret ) || ! is_string( $store_key )
		|| ! ( is_int( $customer_id ) || is_string( $customer_id ) )
		|| ! ( is_int( $expires ) || is_string( $expires ) ) ) {
		return '';
	}
	$secret      = (string) $secret;
	$store_key   = (string) $store_key;
	$customer_id = (string) $customer_id;
	$expires     = (string) $expires;

	// The D modifier stops "$" from accepting a trailing newline; each
	// field must be exactly what the Go verifier accepts, or the two sides
	// would sign different messages for what looks like the same identity.
	if ( '' === $secret
		|| 1 !== preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $store_key )
		|| 1 !== preg_match( '/^[1-9][0-9]{0,19}$/D', $customer_id )
		|| 1 !== preg_match( '/^[1-9][0-9]{0,18}$/D', $expires ) ) {
		return '';
	}

	$message   = 'loyalty-widget|v1|' . $store_key . '|' . $customer_id . '|' . $expires;
	$mac       = hash_hmac( 'sha256', $message, $secret, true );
	$signature = rtrim( strtr( base64_encode( $mac ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- base64url of a MAC, not obfuscation.

	return 'v1.' . $store_key . '.' . $customer_id . '.' . $expires . '.' . $signature;
}
