Feature: The internet drops at every phase of a payment
  Whatever the phase the internet is lost in, a payment ends with exactly one
  outcome, and a payment stored offline is charged exactly once when the
  internet returns.

  @fault:link_down
  Scenario: The internet is down before the payment is created
    Given a rig with a BBPOS Chipper 2X BT
    When the internet goes down
    And the customer pays 9.00 USD as "scarf"
    Then "scarf" is stored offline
    And the history has a "payment.intent.created" event with mode "offline"
    When the internet comes back
    Then "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:link_down
  Scenario: Only the smart reader's internet is down: the reader stores the payment
    Given a rig with a Stripe Reader S700
    When the Stripe Reader S700's internet goes down
    And the customer pays 9.00 USD as "scarf"
    Then "scarf" is stored offline
    When the Stripe Reader S700's internet comes back
    Then "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:request_timeout
  Scenario: The create request times out: the payment falls back offline
    Given a rig with a Stripe Reader M2
    And the next "create" request from the POS times out
    When the customer pays 9.00 USD as "scarf"
    Then the history has a "payment.fell_back_offline" event with payment "scarf"
    And "scarf" is stored offline
    And "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:request_timeout
  Scenario: The smart reader's create request times out: the reader falls back offline
    Given a rig with a BBPOS WisePOS E
    And the next "create" request from the reader times out
    When the customer pays 9.00 USD as "scarf"
    Then "scarf" is stored offline
    And "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:link_down
  Scenario: The internet drops while the reader is collecting
    Given a rig with a BBPOS WisePad 3
    When the customer starts paying 9.00 USD as "scarf"
    And the reader is collecting "scarf"
    And the internet goes down
    And 1 minute passes
    Then "scarf" is stored offline
    When the internet comes back
    Then "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:link_down
  Scenario: The internet drops while a smart reader is collecting
    Given a rig with a Stripe Reader S700
    When the customer starts paying 9.00 USD as "scarf"
    And the reader is collecting "scarf"
    And the internet goes down
    And 1 minute passes
    Then "scarf" is stored offline
    When the internet comes back
    Then "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:request_timeout
  Scenario: The confirm request times out: the payment falls back offline and keeps its id
    Given a rig with a Stripe Reader M2
    And the next "confirm" request from the POS times out
    When the customer pays 9.00 USD as "scarf"
    Then the history has a "payment.fell_back_offline" event with payment "scarf"
    And "scarf" is stored offline
    And "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:link_down
  Scenario: The internet drops while the SDK is forwarding
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 9.00 USD as "scarf"
    And the internet comes back
    And the SDK is forwarding "scarf"
    And the internet goes down
    And 2 minutes pass
    And the internet comes back
    Then "scarf" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"

  @fault:link_down
  Scenario: The internet drops while a smart reader is forwarding
    Given a rig with a BBPOS WisePOS E
    When the internet goes down
    And these customers pay:
      | name  | amount   |
      | scarf | 9.00 USD |
      | hat   | 7.00 USD |
    And the internet comes back
    And the SDK is forwarding "scarf"
    And the internet goes down
    And 2 minutes pass
    And the internet comes back
    Then "scarf" is forwarded within 5 minutes
    And "hat" is forwarded within 5 minutes
    And the backend holds 1 charge for "scarf"
    And the backend holds 1 charge for "hat"
