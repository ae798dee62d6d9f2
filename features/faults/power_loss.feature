@fault:power_loss
Feature: A device loses power
  The store is on disk: a payment the app was told is stored survives a power
  cut, on the POS (mobile readers) and on a smart reader. A cut during the
  write itself tells the app the payment failed, and nothing is charged.

  Scenario: The POS loses power with payments stored and forwards them once back
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name  | amount   |
      | latte | 4.50 USD |
      | mocha | 4.80 USD |
    And the POS loses power
    And 2 minutes pass
    And the internet comes back
    Then "latte" is forwarded within 5 minutes
    And "mocha" is forwarded within 5 minutes
    And the backend holds 1 charge for "mocha"

  Scenario: A smart reader loses power with a payment stored and forwards it once back
    Given a rig with a BBPOS WisePOS E
    When the internet goes down
    And the customer pays 4.50 USD as "latte"
    And the reader loses power
    And 2 minutes pass
    And the internet comes back
    Then "latte" is forwarded within 5 minutes
    And the backend holds 1 charge for "latte"

  Scenario: The POS loses power in the middle of writing a payment
    Given a rig with a BBPOS Chipper 2X BT
    When the internet goes down
    And the POS loses power in the middle of its next write
    And the customer pays 4.50 USD as "latte"
    Then the history has no "offline.payment.stored" event with payment "latte"
    When 2 minutes pass
    And the customer pays 4.80 USD as "mocha"
    Then "mocha" is stored offline
    When the internet comes back
    Then "mocha" is forwarded within 5 minutes
    And the backend holds 0 charges for "latte"

  Scenario: A smart reader loses power in the middle of writing a payment
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the reader loses power in the middle of its next write
    And the customer pays 4.50 USD as "latte"
    Then the history has no "offline.payment.stored" event with payment "latte"
    And the backend holds 0 charges for "latte"

  # A torn write on an empty store proves little: a recovery that drops the
  # last good record with the torn one would pass. These tear the write
  # after two payments are stored; both must survive and be forwarded.
  Scenario: The POS loses power in the middle of a write after two payments are stored, and both survive
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 3.00 USD as "tea"
    And the customer pays 3.50 USD as "scone"
    Then "tea" is stored offline
    And "scone" is stored offline
    When the POS loses power in the middle of its next write
    And the customer pays 4.50 USD as "latte"
    Then the history has no "offline.payment.stored" event with payment "latte"
    When 2 minutes pass
    And the internet comes back
    Then "tea" is forwarded within 5 minutes
    And "scone" is forwarded within 5 minutes
    And the backend holds 1 charge for "tea"
    And the backend holds 1 charge for "scone"
    And the backend holds 0 charges for "latte"

  Scenario: A smart reader loses power in the middle of a write after two payments are stored, and both survive
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the customer pays 3.00 USD as "tea"
    And the customer pays 3.50 USD as "scone"
    Then "tea" is stored offline
    And "scone" is stored offline
    When the reader loses power in the middle of its next write
    And the customer pays 4.50 USD as "latte"
    Then the history has no "offline.payment.stored" event with payment "latte"
    When 2 minutes pass
    And the internet comes back
    Then "tea" is forwarded within 5 minutes
    And "scone" is forwarded within 5 minutes
    And the backend holds 0 charges for "latte"

  Scenario: A mobile reader loses power mid-payment
    Given a rig with a Stripe Reader M2
    When the customer starts paying 4.50 USD as "latte"
    And the reader is collecting "latte"
    And the reader loses power
    And 5 minutes pass
    Then the history has a "reader.powered_off" event with cause "power_lost"
    And "latte" fails with BLUETOOTH_DISCONNECTED
    And the backend holds 0 charges for "latte"
    And the reader is connected within 3 minutes
