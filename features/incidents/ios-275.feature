Feature: ios-275, FORCE_OFFLINE while offline mode is disabled

  In the field: "FORCE_OFFLINE while offline mode is not enabled for the
  Location". It was rejected, and enabling it needs a reconnect online. The
  rejection must carry the documented code and store nothing.

  @incident @source:ios-275
  Scenario: FORCE_OFFLINE is refused with its documented code when offline mode is off
    Given a rig with a Stripe Reader M2
    And offline mode is disabled in the Terminal configuration
    When the customer pays 15.00 USD as "tickets" with FORCE_OFFLINE
    Then "tickets" fails with FORCE_OFFLINE_WITH_FEATURE_DISABLED
    And the history has no "offline.payment.stored" event
    And the backend holds 0 charges for "tickets"
    And the POS reports 0 stored payments
