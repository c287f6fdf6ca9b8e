<?php
/**
 * Deletes the plugin's settings, including the widget secret, when the
 * plugin is deleted from the Plugins screen. The customers' points live in
 * the Loyalty Points app and are not touched.
 *
 * @package Loyalty_Points
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Deletes the options of the current site.
 */
function loyalty_points_delete_options() {
	foreach ( array( 'loyalty_points_app_url', 'loyalty_points_store_key', 'loyalty_points_widget_secret', 'loyalty_points_placement' ) as $option ) {
		delete_option( $option );
	}
}

if ( is_multisite() ) {
	$loyalty_points_sites = get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	);
	foreach ( $loyalty_points_sites as $loyalty_points_site ) {
		switch_to_blog( $loyalty_points_site );
		loyalty_points_delete_options();
		restore_current_blog();
	}
} else {
	loyalty_points_delete_options();
}
