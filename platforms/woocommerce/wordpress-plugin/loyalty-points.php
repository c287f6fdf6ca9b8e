<?php
/**
 * Plugin Name:          Loyalty Points
 * Description:          Shows the Loyalty Points widget on your store and tells the Loyalty Points app, with a signed short-lived token, which customer is logged in.
 * Version:              0.1.0
 * Requires at least:    6.0
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          loyalty-points
 * Domain Path:          /languages
 * WC requires at least: 6.0
 *
 * @package Loyalty_Points
 */

defined( 'ABSPATH' ) || exit;

define( 'LOYALTY_POINTS_VERSION', '0.1.0' );
define( 'LOYALTY_POINTS_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-loyalty-identity.php';
require_once __DIR__ . '/includes/class-loyalty-settings.php';
require_once __DIR__ . '/includes/class-loyalty-widget.php';

add_action( 'before_woocommerce_init', 'loyalty_points_declare_compatibility' );
add_action( 'plugins_loaded', 'loyalty_points_boot' );
add_action( 'init', 'loyalty_points_load_textdomain' );

/**
 * Starts the plugin once WooCommerce is known to be there.
 */
function loyalty_points_boot() {
	if ( ! class_exists( 'WooCommerce' ) ) {
		add_action( 'admin_notices', 'loyalty_points_woocommerce_missing_notice' );
		return;
	}
	Loyalty_Points_Settings::init();
	Loyalty_Points_Widget::init();
}

/**
 * Loads translations from languages/ (WordPress.org language packs load
 * on their own).
 */
function loyalty_points_load_textdomain() {
	load_plugin_textdomain( 'loyalty-points', false, dirname( plugin_basename( LOYALTY_POINTS_FILE ) ) . '/languages' );
}

/**
 * Tells WooCommerce the plugin works with its order tables (HPOS) and the
 * block cart and checkout: it reads neither orders nor the cart.
 */
function loyalty_points_declare_compatibility() {
	if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', LOYALTY_POINTS_FILE, true );
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', LOYALTY_POINTS_FILE, true );
	}
}

/**
 * Explains, to those who can fix it, why nothing happens.
 */
function loyalty_points_woocommerce_missing_notice() {
	if ( ! current_user_can( 'activate_plugins' ) ) {
		return;
	}
	echo '<div class="notice notice-error"><p>' . esc_html__( 'Loyalty Points needs WooCommerce. Install and activate WooCommerce to show the loyalty widget.', 'loyalty-points' ) . '</p></div>';
}
