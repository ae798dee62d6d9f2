Feature: OfflineBehavior and the Terminal configuration
  The app chooses per payment: PREFER_ONLINE (the default), REQUIRE_ONLINE or
  FORCE_OFFLINE (docs/domain.md §3). Offline mode must be enabled in the
  Terminal configuration (§2).

  Scenario: REQUIRE_ONLINE fails while the internet is down
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 15.00 USD as "lunch" with REQUIRE_ONLINE
    Then "lunch" fails with NOT_CONNECTED_TO_INTERNET_AND_REQUIRE_ONLINE_SET
    And the POS reports 0 stored payments
    And the backend holds 0 charges for "lunch"

  Scenario: REQUIRE_ONLINE on a smart reader fails while the internet is down
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the customer pays 15.00 USD as "lunch" with REQUIRE_ONLINE
    Then "lunch" fails with NOT_CONNECTED_TO_INTERNET_AND_REQUIRE_ONLINE_SET
    And the reader reports 0 stored payments

  Scenario: REQUIRE_ONLINE succeeds online while the internet works
    Given a rig with a BBPOS WisePad 3
    When the customer pays 15.00 USD as "lunch" with REQUIRE_ONLINE
    Then "lunch" succeeds online
    And the history has no "offline.payment.stored" event

  Scenario: FORCE_OFFLINE is refused when offline mode is disabled
    Given a rig with a Stripe Reader M2
    And offline mode is disabled in the Terminal configuration
    When the customer pays 15.00 USD as "lunch" with FORCE_OFFLINE
    Then "lunch" fails with FORCE_OFFLINE_WITH_FEATURE_DISABLED
    And the history has no "offline.payment.stored" event
    And the backend holds 0 charges for "lunch"

  Scenario: FORCE_OFFLINE is refused on a smart reader when offline mode is disabled
    Given a rig with a BBPOS WisePOS E
    And offline mode is disabled in the Terminal configuration
    When the customer pays 15.00 USD as "lunch" with FORCE_OFFLINE
    Then "lunch" fails with FORCE_OFFLINE_WITH_FEATURE_DISABLED
    And the history has no "offline.payment.stored" event

  Scenario: PREFER_ONLINE cannot store offline when offline mode is disabled
    Given a rig with a BBPOS Chipper 2X BT
    And offline mode is disabled in the Terminal configuration
    When the internet goes down
    And the customer pays 15.00 USD as "lunch"
    Then "lunch" fails with NOT_CONNECTED_TO_INTERNET
    And the history has no "offline.payment.stored" event

  Scenario: PREFER_ONLINE goes online while the internet works
    Given a rig with a Stripe Reader S700
    When the customer pays 15.00 USD as "lunch"
    Then "lunch" succeeds online
    And the history has a "payment.intent.created" event with mode "online"
