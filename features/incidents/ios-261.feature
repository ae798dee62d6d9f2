Feature: ios-261, payments reported stored that never reach the backend

  In the field, on a Stripe Reader M2: "two payments collected offline and
  reported successful; device back online". They never reached the backend
  and no callback came. A payment reported stored must be forwarded, with its
  callback.

  @incident @source:ios-261 @defect:success-without-store
  Scenario: Two payments stored offline are forwarded once the device is back online
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name  | amount    |
      | latte | 4.50 USD  |
      | bagel | 3.00 USD  |
    Then "latte" is stored offline
    And "bagel" is stored offline
    And the POS reports 2 stored payments
    When the internet comes back
    Then "latte" is forwarded within 5 minutes
    And "bagel" is forwarded within 5 minutes
    And the history has 2 "offline.payment.forwarded" events
    And the backend holds 1 charge for "latte"
    And the backend holds 1 charge for "bagel"
    And the POS reports 0 stored payments
