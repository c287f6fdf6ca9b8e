<?php
/**
 * The storefront: loads the app's widget script and renders
 * <loyalty-widget>, with a signed identity token for a logged-in shopper.
 *
 * @package Loyalty_Points
 */

defined( 'ABSPATH' ) || exit;

/**
 * Puts the widget on the store's pages.
 */
final class Loyalty_Points_Widget {

	/** Script handle of {App URL}/widget/loyalty-widget.js. */
	const SCRIPT_HANDLE = 'loyalty-points-widget';

	/** How long a page's identity token stays valid (the app allows at most a day). */
	const TOKEN_LIFETIME = 3600;

	/**
	 * Hooks the shortcode and the chosen placement.
	 */
	public static function init() {
		add_shortcode( 'loyalty_widget', array( __CLASS__, 'shortcode' ) );
		add_filter( 'script_loader_tag', array( __CLASS__, 'module_tag' ), 10, 2 );

		$placement = Loyalty_Points_Settings::get()['placement'];
		if ( 'floating' === $placement ) {
			add_action( 'wp_footer', array( __CLASS__, 'render_launcher' ) );
		} elseif ( 'account' === $placement ) {
			// The dashboard tab for customers; below the login form for
			// guests, where the widget invites them to join.
			add_action( 'woocommerce_account_dashboard', array( __CLASS__, 'render_inline' ) );
			add_action( 'woocommerce_after_customer_login_form', array( __CLASS__, 'render_inline' ) );
		}
	}

	/**
	 * [loyalty_widget]: the widget inline, wherever the shortcode is.
	 *
	 * @return string
	 */
	public static function shortcode() {
		return self::markup( 'inline' );
	}

	/**
	 * Prints the floating launcher (wp_footer).
	 */
	public static function render_launcher() {
		echo self::markup( 'launcher' ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- every attribute is escaped in markup().
	}

	/**
	 * Prints the widget inline (My Account hooks).
	 */
	public static function render_inline() {
		echo self::markup( 'inline' ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- every attribute is escaped in markup().
	}

	/**
	 * The <loyalty-widget> element for the current shopper, enqueuing the
	 * script; '' until the store is connected.
	 *
	 * @param string $layout "launcher" (floating button) or "inline".
	 * @return string
	 */
	public static function markup( $layout ) {
		$settings = Loyalty_Points_Settings::get();
		if ( ! Loyalty_Points_Settings::is_configured( $settings ) ) {
			return '';
		}

		// No version: the app decides how long the script is cached.
		wp_enqueue_script(
			self::SCRIPT_HANDLE,
			$settings['app_url'] . '/widget/loyalty-widget.js',
			array(),
			null, // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- the app controls caching.
			array(
				'in_footer' => true,
				'strategy'  => 'defer',
			)
		);

		$attributes = array(
			'data-platform' => 'woocommerce',
			'data-store'    => $settings['store_key'],
			'data-api'      => $settings['app_url'],
			'data-locale'   => get_locale(),
			'data-currency' => get_woocommerce_currency(),
			'data-layout'   => $layout,
		);

		$user_id = get_current_user_id();
		if ( $user_id > 0 ) {
			$token = loyalty_points_sign_identity( $settings['widget_secret'], $settings['store_key'], $user_id, time() + self::TOKEN_LIFETIME );
			if ( '' !== $token ) {
				$attributes['data-token'] = $token;
				// The page now carries this shopper's token: page caches
				// must not serve it to anyone else.
				if ( ! defined( 'DONOTCACHEPAGE' ) ) {
					define( 'DONOTCACHEPAGE', true );
				}
			}
		} else {
			$attributes['data-login-url'] = wc_get_page_permalink( 'myaccount' );
			$register_url                 = self::register_url();
			if ( '' !== $register_url ) {
				$attributes['data-register-url'] = $register_url;
			}
		}

		$urls = array( 'data-api', 'data-login-url', 'data-register-url' );
		$html = '<loyalty-widget';
		foreach ( $attributes as $name => $value ) {
			$html .= ' ' . $name . '="' . ( in_array( $name, $urls, true ) ? esc_url( $value ) : esc_attr( $value ) ) . '"';
		}
		return $html . '></loyalty-widget>';
	}

	/**
	 * Where a guest can create an account: WooCommerce's My Account form if
	 * it allows registration, else WordPress's, else nowhere ('').
	 *
	 * @return string
	 */
	private static function register_url() {
		if ( 'yes' === get_option( 'woocommerce_enable_myaccount_registration' ) ) {
			return wc_get_page_permalink( 'myaccount' );
		}
		if ( get_option( 'users_can_register' ) ) {
			return wp_registration_url();
		}
		return '';
	}

	/**
	 * Loads the widget as an ES module (modules are deferred by nature).
	 *
	 * @param string $tag    The <script> tag WordPress built.
	 * @param string $handle Its handle.
	 * @return string
	 */
	public static function module_tag( $tag, $handle ) {
		if ( self::SCRIPT_HANDLE !== $handle ) {
			return $tag;
		}
		$tag = preg_replace( '/\stype=(["\'])[^"\']*\1/', '', $tag );
		return preg_replace( '/<script\s/', '<script type="module" ', $tag, 1 );
	}
}
