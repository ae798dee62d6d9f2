@fault:required_update
Feature: A required software update
  A required update is installed during the next connect and blocks use until
  it is done (docs/domain.md §7).

  Scenario: A required update installs at the next connect and payments go on
    Given a rig with a BBPOS WisePad 3
    Then the reader is connected within 1 minute
    When the reader is offered a required update
    And the reader reboots
    Then the history has a "reader.update.installed" event within 10 minutes
    And the reader is connected within 5 minutes
    When the customer pays 9.90 USD as "update"
    Then "update" succeeds online

  Scenario: A smart reader offered a required update keeps its stored payments
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the customer pays 9.90 USD as "update"
    And the reader is offered a required update
    And the reader reboots
    And the internet comes back
    Then "update" is forwarded within 5 minutes
    And the backend holds 1 charge for "update"
