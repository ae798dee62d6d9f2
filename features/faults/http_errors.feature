@fault:http_error
Feature: The backend answers HTTP 5xx, 429 or 409
  The backend refuses a request before applying anything. Forwards are
  retried until they succeed; nothing is charged twice. A 409 says another
  request with the same idempotency key is still in progress: the same
  request again later, never a failure reported to the app.

  Scenario: Forwards answered with HTTP 409 (the key in use by a request in progress) are retried with the same key
    Given a rig with a Stripe Reader M2
    And the backend answers the next 2 "forward" requests with HTTP 409
    When the internet goes down
    And the customer pays 13.00 USD as "salad"
    And the internet comes back
    Then "salad" is forwarded within 5 minutes
    And the history has no "merchant.notified" event
    And the backend holds 1 charge for "salad"

  Scenario: A smart reader's forwards answered with HTTP 409 are retried
    Given a rig with a Stripe Reader S700
    And the backend answers the next 1 "forward" request with HTTP 409
    When the internet goes down
    And the customer pays 13.00 USD as "salad"
    And the internet comes back
    Then "salad" is forwarded within 5 minutes
    And the backend holds 1 charge for "salad"

  Scenario: Forwards answered with HTTP 503 are retried
    Given a rig with a Stripe Reader M2
    And the backend answers the next 2 "forward" requests with HTTP 503
    When the internet goes down
    And the customer pays 13.00 USD as "salad"
    And the internet comes back
    Then "salad" is forwarded within 5 minutes
    And the backend holds 1 charge for "salad"

  Scenario: A smart reader's forwards answered with HTTP 429 are retried
    Given a rig with a BBPOS WisePOS E
    And the backend answers the next 3 "forward" requests with HTTP 429
    When the internet goes down
    And the customer pays 13.00 USD as "salad"
    And the internet comes back
    Then "salad" is forwarded within 5 minutes
    And the backend holds 1 charge for "salad"

  Scenario: Forwards answered with HTTP 500 and 502 are retried
    Given a rig with a BBPOS Chipper 2X BT
    And the backend answers the next 1 "forward" request with HTTP 500
    And the backend answers the next 1 "forward" request with HTTP 502
    When the internet goes down
    And the customer pays 13.00 USD as "salad"
    And the internet comes back
    Then "salad" is forwarded within 5 minutes
    And the backend holds 1 charge for "salad"

  Scenario: A create answered with HTTP 500 charges nothing
    Given a rig with a Stripe Reader M2
    And the backend answers the next 1 "create" request with HTTP 500
    When the customer pays 13.00 USD as "salad"
    Then "salad" fails with DECLINED_BY_STRIPE_API
    And the backend holds 0 charges for "salad"
