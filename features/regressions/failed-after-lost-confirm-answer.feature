Feature: A payment whose confirm answer was lost is told how it really ended

  No single incident: a class of bug. A confirm reaches the backend and
  charges the card, and its answer never comes back. Whatever the SDK does
  next (fall back offline, or, when it cannot, find out from the backend),
  the app must hear what the ledger holds: never "failed" for a customer who
  was charged, never "succeeded" for one who was not (the checker's I9).

  @regression @defect:failed-after-lost-confirm-answer
  Scenario: The confirm's answer is lost: the payment falls back offline and its forward finds it paid
    Given a rig with a Stripe Reader M2
    And the next "confirm" request from the POS loses its answer
    When the customer pays 11.00 USD as "pizza"
    Then "pizza" is stored offline
    When 5 minutes pass
    Then the history has 1 "offline.payment.forwarded" event
    And the backend holds 1 charge for "pizza"

  @regression
  Scenario: REQUIRE_ONLINE cannot fall back: the SDK cancels the intent, finds it paid, and says so
    Given a rig with a BBPOS WisePad 3
    And the next "confirm" request from the POS loses its answer
    When the customer pays 30.00 USD as "dinner" with REQUIRE_ONLINE
    Then "dinner" succeeds online
    And the history has no "offline.payment.stored" event
    And the backend holds 1 charge for "dinner"

  @regression
  Scenario: REQUIRE_ONLINE and a confirm that never arrived: the intent is canceled before the app hears it failed
    Given a rig with a Stripe Reader S700
    And the next "confirm" request from the reader times out
    When the customer pays 30.00 USD as "dinner" with REQUIRE_ONLINE
    Then "dinner" fails with NOT_CONNECTED_TO_INTERNET
    And the history has a "backend.payment_intent.canceled" event
    And the backend holds 0 charges for "dinner"
