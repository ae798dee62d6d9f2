Feature: A payment created online but confirmed offline
  An intent created online that cannot be confirmed online (the confirm
  request times out) falls back offline and keeps its intent id
  (docs/domain.md §3). OFFLINE_COLLECT_AND_CONFIRM_MISMATCH needs the SDK to
  learn it is offline between collect and confirm; the reference app confirms
  in the same instant the card is read, so that window cannot be reached here.

  @needs:calls-in-flight
  Scenario: The internet drops after the card is read: the payment falls back offline and keeps its id
    Given a rig with a Stripe Reader M2
    When the customer starts paying 30.00 USD as "dinner"
    And the reader has read the card for "dinner"
    And the internet goes down
    And 1 minute passes
    Then the history has a "payment.fell_back_offline" event with payment "dinner"
    And "dinner" is stored offline
    When the internet comes back
    Then "dinner" is forwarded within 5 minutes
    And the backend holds 1 charge for "dinner"

  Scenario: REQUIRE_ONLINE does not fall back when the confirm cannot reach the backend
    Given a rig with a BBPOS WisePad 3
    And the next "confirm" request from the POS times out
    When the customer pays 30.00 USD as "dinner" with REQUIRE_ONLINE
    Then the history has no "offline.payment.stored" event
    And the backend holds 0 charges for "dinner"
