Feature: The POS's own promises on a smart reader, whoever plays the POS
  These scenarios hold the POS to its word while the network between it and
  the backend misbehaves: readerlab's reference POS, or an SDK team's adapter
  with `readerlab run --target served --pos CMD` (docs/driver-protocol.md),
  which drives the smart reader server-side. Whatever the POS saw, the
  customer is charged once, and the POS's outcome agrees with the ledger
  (the checker reads `pos.payment.ended` against the charges, I2 and I3).

  Scenario: A payment on a smart reader succeeds online
    Given a rig with a Stripe Reader S700
    When the customer pays 12.50 USD as "coffee"
    Then "coffee" succeeds online
    And the backend holds 1 charge for "coffee"

  Scenario: A declined card is declined, and nothing is charged
    Given a rig with a BBPOS WisePOS E
    When the customer pays 9.00 USD as "tea" with the "insufficient_funds" card
    Then "tea" is declined online with insufficient_funds
    And the backend holds 0 charges for "tea"

  Scenario: The POS loses its internet while the reader takes the card
    Given a rig with a Stripe Reader S700
    When the customer starts paying 20.00 USD as "lunch"
    And the POS's internet goes down
    And 1 minute passes
    And the POS's internet comes back
    And 5 minutes pass
    Then the backend holds 1 charge for "lunch"

  Scenario: The answer to the POS's request to process the payment is lost
    Given a rig with a Stripe Reader S700
    And the next "process" request from the POS loses its answer
    When the customer pays 15.00 USD as "cake"
    And 5 minutes pass
    Then the backend holds 1 charge for "cake"

  Scenario: The answer to the POS's look at the reader is lost
    Given a rig with a BBPOS WisePOS E
    And the 3rd "retrieve reader" request from the POS loses its answer
    When the customer pays 6.40 USD as "bagel"
    And 5 minutes pass
    Then the backend holds 1 charge for "bagel"

  Scenario: The POS app is killed in the middle of a payment and starts again
    Given a rig with a BBPOS WisePOS E
    When the customer starts paying 7.00 USD as "soup"
    And the app on the POS is killed
    And 1 minute passes
    And the app on the POS starts again
    And 5 minutes pass
    Then the backend holds 1 charge for "soup"
