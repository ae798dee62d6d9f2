Feature: A payment that fails at sync is shown to the merchant, with its reason

  Offline POS apps promise the merchant an immediate notice, with the
  reason, for each stored payment that fails when it is forwarded: the
  customer has left, and only the merchant can follow up. The checker
  judges it as I11 (merchant told); the defect profile
  `failed-sync-not-shown` is an app that hears the failure from the SDK
  and shows nothing.

  @regression @defect:failed-sync-not-shown @fault:decline_on_sync
  Scenario: A payment declined at sync is shown to the merchant once, with the issuer's reason
    Given a rig with a BBPOS Chipper 2X BT
    And the backend declines the next 1 forwarded payment with insufficient_funds
    When the internet goes down
    And the customer pays 18.00 USD as "boots"
    Then "boots" is stored offline
    When the internet comes back
    Then "boots" is declined on sync with insufficient_funds within 5 minutes
    And the history has a "merchant.notified" event with reason "insufficient_funds"
    When 2 minutes pass
    Then the history has 1 "merchant.notified" event

  @regression @fault:decline_on_sync
  Scenario: A smart reader's app shows its merchant a payment declined at sync
    Given a rig with a Stripe Reader S700
    And the backend declines the next 1 forwarded payment with expired_card
    When the internet goes down
    And the customer pays 22.00 USD as "hat"
    Then "hat" is stored offline
    When the internet comes back
    Then "hat" is declined on sync with expired_card within 5 minutes
    And the history has a "merchant.notified" event with reason "expired_card"
