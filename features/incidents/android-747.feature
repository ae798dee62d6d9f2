Feature: android-747, stored payments forwarded more than once after a reconnect

  In the field: "reconnect after an offline period; while the SDK drains its
  stored queue the app keeps creating payments with FORCE_OFFLINE". The queued
  payments were forwarded 2 to 4 times, each under a fresh idempotency key
  (8 orders became 19 charges). Each stored payment must be charged once.

  @incident @source:android-747 @defect:double-forward-on-reconnect
  Scenario: The network blinks while an upload is in flight and the app keeps storing
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name   | amount    |
      | order1 | 12.00 USD |
      | order2 | 8.00 USD  |
      | order3 | 23.00 USD |
      | order4 | 5.00 USD  |
    And the internet slows down by 2500 ms
    And the internet comes back
    And the SDK is forwarding "order1"
    And 3 seconds pass
    And the internet goes down
    And a second passes
    And the internet comes back
    And these customers pay:
      | name   | amount    | behavior      |
      | order5 | 9.00 USD  | FORCE_OFFLINE |
      | order6 | 14.00 USD | FORCE_OFFLINE |
    And the internet is fast again
    Then "order1" is forwarded within 10 minutes
    And "order2" is forwarded within 10 minutes
    And "order3" is forwarded within 10 minutes
    And "order4" is forwarded within 10 minutes
    And "order5" is forwarded within 10 minutes
    And "order6" is forwarded within 10 minutes
    And the backend holds 1 charge for "order1"
    And the backend holds 1 charge for "order2"
    And the backend holds 1 charge for "order3"
    And the backend holds 1 charge for "order4"
    And the backend holds 1 charge for "order5"
    And the backend holds 1 charge for "order6"
