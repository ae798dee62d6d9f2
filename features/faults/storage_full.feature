@fault:storage_full
Feature: The device's storage is full
  A store that cannot write refuses the payment with
  OFFLINE_PAYMENTS_DATABASE_TOO_LARGE, and the app is never told a payment
  is stored when it is not (docs/domain.md §5, docs/offline.md).

  Scenario: A full POS storage refuses offline payments until it has room again
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the storage of the POS is full
    And the customer pays 3.00 USD as "fries"
    Then "fries" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    When the storage of the POS has room again
    And the customer pays 3.50 USD as "shake"
    Then "shake" is stored offline
    When the internet comes back
    Then "shake" is forwarded within 5 minutes
    And the backend holds 0 charges for "fries"

  Scenario: A full smart reader storage refuses offline payments
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the storage of the reader is full
    And the customer pays 3.00 USD as "fries"
    Then "fries" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    And the reader reports 0 stored payments
    When the storage of the reader has room again
    And the customer pays 3.50 USD as "shake"
    Then "shake" is stored offline

  Scenario: A full storage does not stop online payments
    Given a rig with a BBPOS WisePad 3
    When the storage of the POS is full
    And the customer pays 3.00 USD as "fries"
    Then "fries" succeeds online

  Scenario: Only the next write fails for lack of space
    Given a rig with a BBPOS Chipper 2X BT
    And the next write to the storage of the POS fails for lack of space
    When the internet goes down
    And the customer pays 3.00 USD as "fries"
    And the customer pays 3.50 USD as "shake"
    Then "fries" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    And "shake" is stored offline
    When the internet comes back
    Then "shake" is forwarded within 5 minutes

  Scenario: Only the next write of a smart reader fails for lack of space
    Given a rig with a BBPOS WisePOS E
    And the next write to the storage of the reader fails for lack of space
    When the internet goes down
    And the customer pays 3.00 USD as "fries"
    And the customer pays 3.50 USD as "shake"
    Then "fries" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    And "shake" is stored offline
