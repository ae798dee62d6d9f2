Feature: rn-668, a cold start without internet

  In the field: "app cold-starts with no internet; token provider throws". The
  SDK never initialised, so offline collection was impossible. An app that
  was online before must start offline and collect.

  @incident @source:rn-668
  Scenario: The app starts again offline, its token provider failing, and still collects
    Given a rig with a Stripe Reader M2
    When the customer pays 6.00 USD as "before"
    Then "before" succeeds online
    When the internet goes down
    And the app on the POS is killed
    Given the connection token provider fails 3 times
    When 10 seconds pass
    And the app on the POS starts again
    And the customer pays 11.00 USD as "cold start"
    Then "cold start" is stored offline
    When the internet comes back
    Then "cold start" is forwarded within 5 minutes
    And the history has a "offline.forwarding.failed" event with code "CONNECTION_TOKEN_PROVIDER_ERROR_WHILE_FORWARDING"
    And the backend holds 1 charge for "cold start"
