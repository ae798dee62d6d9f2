@fault:token_provider_failure
Feature: The connection token provider fails while forwarding
  A token failure is not tied to one payment: it is reported through
  onForwardingFailure with CONNECTION_TOKEN_PROVIDER_ERROR_WHILE_FORWARDING,
  and forwarding resumes when the provider works again (docs/domain.md §4).

  Scenario: The token provider fails, then recovers, and the payment is forwarded
    Given a rig with a Stripe Reader M2
    And the connection token provider fails 2 times
    When the internet goes down
    And the customer pays 18.00 USD as "kite"
    And the internet comes back
    Then the history has a "offline.forwarding.failed" event with code "CONNECTION_TOKEN_PROVIDER_ERROR_WHILE_FORWARDING" within 5 minutes
    And "kite" is forwarded within 10 minutes
    And the backend holds 1 charge for "kite"

  Scenario: A smart reader's token provider fails, then recovers
    Given a rig with a BBPOS WisePOS E
    And the connection token provider fails 3 times
    When the internet goes down
    And the customer pays 18.00 USD as "kite"
    And the internet comes back
    Then "kite" is forwarded within 10 minutes
    And the backend holds 1 charge for "kite"
