Feature: No payment intent is left behind for a payment that already ended

  No single incident: a class of bug. An SDK that keeps requests in a queue
  while the network is down must not send a payment's online create after
  the payment went on without it (stored offline, failed or canceled): the
  backend would hold an intent nobody will ever confirm or cancel (the
  checker's I10). A create whose answer comes too late is canceled.

  @regression @defect:create-queued-while-offline
  Scenario: Payments taken offline leave no intent behind when the network returns
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 12.00 USD as "bagel"
    And the customer pays 9.00 USD as "tea" with REQUIRE_ONLINE
    Then "bagel" is stored offline
    And "tea" fails with NOT_CONNECTED_TO_INTERNET_AND_REQUIRE_ONLINE_SET
    When the internet comes back
    Then "bagel" is forwarded within 5 minutes
    And the backend holds 1 charge for "bagel"
    And the backend holds 0 charges for "tea"

  @regression
  Scenario: A create answered after the SDK gave up on it is canceled
    Given a rig with a BBPOS WisePad 3
    When the internet slows down by 20000 ms
    And the customer pays 6.00 USD as "soup"
    Then "soup" is stored offline
    When the internet is fast again
    Then "soup" is forwarded within 5 minutes
    And the history has a "backend.payment_intent.canceled" event
    And the backend holds 1 charge for "soup"
