Feature: Retries of an upload keep their idempotency key

  No single incident: a class of bug. When the answer to a forward request is
  lost, the SDK retries; every retry must carry the payment's one idempotency
  key, so the backend replays instead of charging again.

  @regression @defect:fresh-idempotency-key-on-retry
  Scenario: Lost answers to forward requests do not charge a stored payment twice
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name   | amount    |
      | lunch  | 16.00 USD |
      | dinner | 32.00 USD |
    Given the next "forward" request from the POS loses its answer
    And the 2nd "forward" request from the POS loses its answer
    And the 3rd "forward" request from the POS loses its answer
    When the internet comes back
    Then "lunch" is forwarded within 10 minutes
    And "dinner" is forwarded within 10 minutes
    And the backend holds 1 charge for "lunch"
    And the backend holds 1 charge for "dinner"
