Feature: Amount, currency and storage limits offline
  Offline a payment may not exceed the per-transaction maximum
  (AMOUNT_EXCEEDS_MAX_OFFLINE_AMOUNT, 10,000 USD by default), must be in a
  currency enabled offline (INVALID_OFFLINE_CURRENCY), and the store has a
  record cap and an optional stored-amount limit
  (OFFLINE_PAYMENTS_DATABASE_TOO_LARGE) (docs/domain.md §2, §5).

  Scenario: A payment over 10,000 USD is refused offline
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 10000.01 USD as "sofa"
    Then "sofa" fails with AMOUNT_EXCEEDS_MAX_OFFLINE_AMOUNT
    And the POS reports 0 stored payments

  Scenario: A payment of exactly 10,000 USD is stored offline
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 10000.00 USD as "sofa"
    Then "sofa" is stored offline
    When the internet comes back
    Then "sofa" is forwarded within 5 minutes

  Scenario: A lower configured maximum is enforced on a smart reader
    Given a rig with a Stripe Reader S700
    And the offline maximum per payment is 500.00 USD
    When the internet goes down
    And the customer pays 500.10 USD as "lamp"
    Then "lamp" fails with AMOUNT_EXCEEDS_MAX_OFFLINE_AMOUNT
    And the reader reports 0 stored payments

  Scenario: A currency not enabled offline is refused offline
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 20.00 EUR as "croissant"
    Then "croissant" fails with INVALID_OFFLINE_CURRENCY

  Scenario: A currency not enabled offline still works online
    Given a rig with a Stripe Reader M2
    When the customer pays 20.00 EUR as "croissant"
    Then "croissant" succeeds online

  Scenario: The store refuses a payment beyond its record cap
    Given a rig with a BBPOS WisePad 3
    And the store holds at most 2 payments
    When the internet goes down
    And these customers pay:
      | name   | amount   |
      | first  | 5.00 USD |
      | second | 6.00 USD |
      | third  | 7.00 USD |
    Then "first" is stored offline
    And "second" is stored offline
    And "third" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    And the POS reports 2 stored payments
    When the internet comes back
    Then "second" is forwarded within 5 minutes

  Scenario: The store takes payments again once the queue has drained
    Given a rig with a BBPOS WisePOS E
    And the store holds at most 1 payment
    When the internet goes down
    And the customer pays 5.00 USD as "first"
    And the customer pays 6.00 USD as "second"
    Then "second" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    When the internet comes back
    Then "first" is forwarded within 5 minutes
    When the internet goes down
    And the customer pays 7.00 USD as "third"
    Then "third" is stored offline

  Scenario: The app's stored-amount limit refuses a payment that would exceed it
    Given a rig with a Stripe Reader M2
    And the app stores at most 100.00 USD offline
    When the internet goes down
    And the customer pays 60.00 USD as "jacket"
    And the customer pays 50.00 USD as "boots"
    Then "jacket" is stored offline
    And "boots" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    When the customer pays 40.00 USD as "belt"
    Then "belt" is stored offline
