<?php
/**
 * The settings page under WooCommerce › Loyalty Points.
 *
 * Uses the Settings API: options.php checks the nonce that settings_fields()
 * prints and, through the option_page_capability_ filter, the
 * manage_woocommerce capability, so shop managers can connect the store.
 *
 * @package Loyalty_Points
 */

defined( 'ABSPATH' ) || exit;

/**
 * Registers, renders and reads the plugin's settings.
 */
final class Loyalty_Points_Settings {

	/** Settings API option group, also the nonce action prefix. */
	const GROUP = 'loyalty_points';

	/** Admin page slug. */
	const PAGE = 'loyalty-points';

	/** Who may see and change the settings. */
	const CAPABILITY = 'manage_woocommerce';

	/** Option: the app's base URL, https, no trailing slash. */
	const OPTION_APP_URL = 'loyalty_points_app_url';

	/** Option: the app's key for this store. */
	const OPTION_STORE_KEY = 'loyalty_points_store_key';

	/** Option: the secret that signs shopper identities. Never shown. */
	const OPTION_WIDGET_SECRET = 'loyalty_points_widget_secret';

	/** Option: where the widget appears: floating, account or shortcode. */
	const OPTION_PLACEMENT = 'loyalty_points_placement';

	/** Placement used until the merchant picks one. */
	const DEFAULT_PLACEMENT = 'floating';

	/**
	 * Hooks the page into the admin.
	 */
	public static function init() {
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ) );
		add_action( 'admin_init', array( __CLASS__, 'register' ) );
		add_filter( 'option_page_capability_' . self::GROUP, array( __CLASS__, 'capability' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( LOYALTY_POINTS_FILE ), array( __CLASS__, 'action_links' ) );
		add_action( 'admin_notices', array( __CLASS__, 'not_configured_notice' ) );
	}

	/**
	 * The settings as the storefront needs them.
	 *
	 * @return array{app_url: string, store_key: string, widget_secret: string, placement: string}
	 */
	public static function get() {
		$placement = (string) get_option( self::OPTION_PLACEMENT, self::DEFAULT_PLACEMENT );
		if ( ! array_key_exists( $placement, self::placements() ) ) {
			$placement = self::DEFAULT_PLACEMENT;
		}
		return array(
			'app_url'       => (string) get_option( self::OPTION_APP_URL, '' ),
			'store_key'     => (string) get_option( self::OPTION_STORE_KEY, '' ),
			'widget_secret' => (string) get_option( self::OPTION_WIDGET_SECRET, '' ),
			'placement'     => $placement,
		);
	}

	/**
	 * Whether the store is connected: without all three the widget cannot
	 * load, or cannot vouch for a logged-in shopper, so it is not shown.
	 *
	 * @param array $settings As returned by get().
	 * @return bool
	 */
	public static function is_configured( $settings ) {
		return '' !== $settings['app_url'] && '' !== $settings['store_key'] && '' !== $settings['widget_secret'];
	}

	/**
	 * The placements, keyed by stored value.
	 *
	 * @return array<string, string>
	 */
	public static function placements() {
		return array(
			'floating'  => __( 'Floating launcher on every page', 'loyalty-points' ),
			'account'   => __( 'Only on the My Account page', 'loyalty-points' ),
			'shortcode' => __( 'Only where the [loyalty_widget] shortcode is placed', 'loyalty-points' ),
		);
	}

	/**
	 * Adds WooCommerce › Loyalty Points.
	 */
	public static function add_page() {
		add_submenu_page(
			'woocommerce',
			__( 'Loyalty Points', 'loyalty-points' ),
			__( 'Loyalty Points', 'loyalty-points' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render_page' )
		);
	}

	/**
	 * Lets options.php save this group for shop managers, not only admins.
	 *
	 * @return string
	 */
	public static function capability() {
		return self::CAPABILITY;
	}

	/**
	 * Adds a Settings link on the Plugins screen.
	 *
	 * @param string[] $links Existing links.
	 * @return string[]
	 */
	public static function action_links( $links ) {
		$url = admin_url( 'admin.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'loyalty-points' ) . '</a>' );
		return $links;
	}

	/**
	 * Registers the options, their sanitizers and the form's fields.
	 */
	public static function register() {
		$options = array(
			self::OPTION_APP_URL       => array( __CLASS__, 'sanitize_app_url' ),
			self::OPTION_STORE_KEY     => array( __CLASS__, 'sanitize_store_key' ),
			self::OPTION_WIDGET_SECRET => array( __CLASS__, 'sanitize_widget_secret' ),
			self::OPTION_PLACEMENT     => array( __CLASS__, 'sanitize_placement' ),
		);
		foreach ( $options as $option => $sanitize ) {
			register_setting(
				self::GROUP,
				$option,
				array(
					'type'              => 'string',
					'sanitize_callback' => $sanitize,
					'default'           => self::OPTION_PLACEMENT === $option ? self::DEFAULT_PLACEMENT : '',
					'show_in_rest'      => false,
				)
			);
		}

		add_settings_section( 'loyalty_points_connection', __( 'Connection', 'loyalty-points' ), array( __CLASS__, 'render_connection_intro' ), self::PAGE );
		add_settings_field( self::OPTION_APP_URL, __( 'App URL', 'loyalty-points' ), array( __CLASS__, 'render_app_url' ), self::PAGE, 'loyalty_points_connection', array( 'label_for' => self::OPTION_APP_URL ) );
		add_settings_field( self::OPTION_STORE_KEY, __( 'Store key', 'loyalty-points' ), array( __CLASS__, 'render_store_key' ), self::PAGE, 'loyalty_points_connection', array( 'label_for' => self::OPTION_STORE_KEY ) );
		add_settings_field( self::OPTION_WIDGET_SECRET, __( 'Widget secret', 'loyalty-points' ), array( __CLASS__, 'render_widget_secret' ), self::PAGE, 'loyalty_points_connection', array( 'label_for' => self::OPTION_WIDGET_SECRET ) );

		add_settings_section( 'loyalty_points_display', __( 'Display', 'loyalty-points' ), array( __CLASS__, 'render_display_intro' ), self::PAGE );
		add_settings_field( self::OPTION_PLACEMENT, __( 'Placement', 'loyalty-points' ), array( __CLASS__, 'render_placement' ), self::PAGE, 'loyalty_points_display' );
	}

	/**
	 * Keeps an https URL (http only for a local app), without a trailing
	 * slash, query or credentials. An invalid value keeps the old one.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_app_url( $value ) {
		$value = untrailingslashit( trim( is_string( $value ) ? $value : '' ) );
		if ( '' === $value ) {
			return '';
		}
		$url   = esc_url_raw( $value, array( 'https', 'http' ) );
		$parts = '' === $url ? false : wp_parse_url( $url );
		$host  = is_array( $parts ) && isset( $parts['host'] ) ? strtolower( $parts['host'] ) : '';
		$local = in_array( $host, array( 'localhost', '127.0.0.1', '[::1]' ), true );
		if ( '' === $host
			|| isset( $parts['user'] ) || isset( $parts['pass'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] )
			|| ( 'https' !== $parts['scheme'] && ! $local ) ) {
			add_settings_error( self::OPTION_APP_URL, 'loyalty_points_app_url', __( 'The App URL must be an https:// address such as https://loyalty.example.com. It was not changed.', 'loyalty-points' ) );
			return (string) get_option( self::OPTION_APP_URL, '' );
		}
		return untrailingslashit( $url );
	}

	/**
	 * Keeps a store key in the token format (1-64 of A-Z a-z 0-9 _ -).
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_store_key( $value ) {
		$value = trim( is_string( $value ) ? $value : '' );
		if ( '' === $value || 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $value ) ) {
			return $value;
		}
		add_settings_error( self::OPTION_STORE_KEY, 'loyalty_points_store_key', __( 'The store key has up to 64 letters, digits, "-" and "_". Copy it exactly as the app shows it. It was not changed.', 'loyalty-points' ) );
		return (string) get_option( self::OPTION_STORE_KEY, '' );
	}

	/**
	 * Write-only: an empty field keeps the stored secret, so the secret is
	 * never sent back to the browser to be re-submitted.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_widget_secret( $value ) {
		$value = trim( is_string( $value ) ? $value : '' );
		if ( '' === $value ) {
			return (string) get_option( self::OPTION_WIDGET_SECRET, '' );
		}
		// Printable ASCII without spaces: it is used byte for byte as the
		// HMAC key on both sides, so nothing may be re-encoded on the way.
		if ( 1 === preg_match( '/^[\x21-\x7E]{16,256}$/D', $value ) ) {
			return $value;
		}
		add_settings_error( self::OPTION_WIDGET_SECRET, 'loyalty_points_widget_secret', __( 'The widget secret has 16 to 256 characters and no spaces. Copy it exactly as the app shows it. It was not changed.', 'loyalty-points' ) );
		return (string) get_option( self::OPTION_WIDGET_SECRET, '' );
	}

	/**
	 * Keeps one of the known placements.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_placement( $value ) {
		return is_string( $value ) && array_key_exists( $value, self::placements() ) ? $value : self::DEFAULT_PLACEMENT;
	}

	/**
	 * Renders WooCommerce › Loyalty Points.
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage Loyalty Points.', 'loyalty-points' ), 403 );
		}
		?>
		<div class="wrap">
			<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
			<?php settings_errors(); ?>
			<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
				<?php
				settings_fields( self::GROUP );
				do_settings_sections( self::PAGE );
				submit_button();
				?>
			</form>
		</div>
		<?php
	}

	/**
	 * Explains where the connection values come from.
	 */
	public static function render_connection_intro() {
		echo '<p>' . esc_html__( 'Copy these from the Loyalty Points app after connecting your store (an operator can also read them with "loyalty shops show").', 'loyalty-points' ) . '</p>';
	}

	/**
	 * Explains the shortcode.
	 */
	public static function render_display_intro() {
		echo '<p>' . esc_html__( 'Whatever you choose, the [loyalty_widget] shortcode shows the widget inline on any page or post.', 'loyalty-points' ) . '</p>';
	}

	/**
	 * The App URL field.
	 */
	public static function render_app_url() {
		printf(
			'<input type="url" id="%1$s" name="%1$s" value="%2$s" class="regular-text code" placeholder="https://loyalty.example.com">',
			esc_attr( self::OPTION_APP_URL ),
			esc_attr( (string) get_option( self::OPTION_APP_URL, '' ) )
		);
	}

	/**
	 * The Store key field.
	 */
	public static function render_store_key() {
		printf(
			'<input type="text" id="%1$s" name="%1$s" value="%2$s" class="regular-text code" autocomplete="off" spellcheck="false">',
			esc_attr( self::OPTION_STORE_KEY ),
			esc_attr( (string) get_option( self::OPTION_STORE_KEY, '' ) )
		);
	}

	/**
	 * The Widget secret field: always empty, with whether one is stored.
	 */
	public static function render_widget_secret() {
		$is_set = '' !== (string) get_option( self::OPTION_WIDGET_SECRET, '' );
		printf(
			'<input type="password" id="%1$s" name="%1$s" value="" class="regular-text code" autocomplete="new-password" spellcheck="false"> <strong>%2$s</strong>',
			esc_attr( self::OPTION_WIDGET_SECRET ),
			$is_set ? esc_html__( 'set', 'loyalty-points' ) : esc_html__( 'not set', 'loyalty-points' )
		);
		echo '<p class="description">' . esc_html__( 'Signs which customer is logged in, so no one can see or spend another customer\'s points. It is never shown again; leave the field empty to keep the current secret, or paste a new one to replace it.', 'loyalty-points' ) . '</p>';
	}

	/**
	 * The Placement radios.
	 */
	public static function render_placement() {
		$current = self::get()['placement'];
		echo '<fieldset>';
		foreach ( self::placements() as $value => $label ) {
			printf(
				'<label><input type="radio" name="%1$s" value="%2$s"%3$s> %4$s</label><br>',
				esc_attr( self::OPTION_PLACEMENT ),
				esc_attr( $value ),
				checked( $current, $value, false ),
				esc_html( $label )
			);
		}
		echo '</fieldset>';
	}

	/**
	 * Reminds whoever manages the shop, on the Plugins screen, that the
	 * widget stays hidden until the store is connected.
	 */
	public static function not_configured_notice() {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( ! $screen || 'plugins' !== $screen->id || ! current_user_can( self::CAPABILITY ) || self::is_configured( self::get() ) ) {
			return;
		}
		printf(
			'<div class="notice notice-warning"><p>%1$s <a href="%2$s">%3$s</a></p></div>',
			esc_html__( 'Loyalty Points is not connected yet, so the widget is hidden.', 'loyalty-points' ),
			esc_url( admin_url( 'admin.php?page=' . self::PAGE ) ),
			esc_html__( 'Enter the App URL, store key and widget secret.', 'loyalty-points' )
		);
	}
}
