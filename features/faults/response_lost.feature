@fault:response_lost
Feature: The backend's answer is lost
  The request reaches the backend and is applied, and its answer never comes
  back. The SDK must not charge twice: forwards carry an idempotency key, and
  a payment created or confirmed online keeps its intent.

  Scenario: The answer to a forward is lost: the retry replays, no second charge
    Given a rig with a Stripe Reader M2
    And the next "forward" request from the POS loses its answer
    When the internet goes down
    And the customer pays 11.00 USD as "pizza"
    And the internet comes back
    Then "pizza" is forwarded within 5 minutes
    And the backend holds 1 charge for "pizza"
    And the history has a "backend.request.replayed" event

  Scenario: The answer to a smart reader's forward is lost
    Given a rig with a Stripe Reader S700
    And the next "forward" request from the reader loses its answer
    When the internet goes down
    And the customer pays 11.00 USD as "pizza"
    And the internet comes back
    Then "pizza" is forwarded within 5 minutes
    And the backend holds 1 charge for "pizza"

  Scenario: The answer to a create is lost: the payment falls back offline
    Given a rig with a BBPOS WisePad 3
    And the next "create" request from the POS loses its answer
    When the customer pays 11.00 USD as "pizza"
    Then "pizza" is stored offline
    And "pizza" is forwarded within 5 minutes
    And the backend holds 1 charge for "pizza"

  Scenario: The answer to a confirm is lost: the card is charged once
    Given a rig with a Stripe Reader M2
    And the next "confirm" request from the POS loses its answer
    When the customer pays 11.00 USD as "pizza"
    And 5 minutes pass
    Then the backend holds 1 charge for "pizza"

  Scenario: The answer to a forward is lost and the internet blinks before the retry
    Given a rig with a BBPOS WisePad 3
    And the next "forward" request from the POS loses its answer
    When the internet goes down
    And the customer pays 11.00 USD as "pizza"
    And the internet comes back
    And the SDK is forwarding "pizza"
    And 1 second passes
    And the internet goes down
    And 5 seconds pass
    And the internet comes back
    Then "pizza" is forwarded within 5 minutes
    And the backend holds 1 charge for "pizza"
