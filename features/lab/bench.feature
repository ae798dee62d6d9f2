@lab
Feature: What a lab bench can do
  Written for a bench of physical readers (docs/lab.md): every
  fault in them is one a bench's hooks make (a reader's power, a reboot, a
  link taken down and brought up), every wait is short enough to pass in
  real time, and every expectation reads what a bench can see (the POS's
  events and the backend's ledger). They run on every target;
  `readerlab run --target lab --rig BENCH.toml features/lab` runs them on
  a bench, and CI runs them on a served one.

  @fault:power_loss
  Scenario: A payment stored while the POS is offline survives the reader losing power, and is forwarded and charged once
    Given a rig with a Stripe Reader M2
    When the POS's internet goes down
    And the customer pays 5.00 USD as "tea"
    Then "tea" is stored offline
    When the reader loses power
    And the POS's internet comes back
    Then "tea" is forwarded within 2 minutes
    And the history has a "backend.charge.succeeded" event with amount "5.00 USD" after the last fault clears within 1 minute

  @fault:link_down
  Scenario: The POS's internet drops between the payment's create and its confirm, and the payment is charged once
    Given a rig with a Stripe Reader M2
    When the customer starts paying 6.00 USD as "bagel"
    And time passes until the app has created "bagel", at most 30 seconds
    And the POS's internet goes down
    And 10 seconds pass
    And the POS's internet comes back
    Then the history has a "backend.charge.succeeded" event with amount "6.00 USD" after the last fault clears within 2 minutes

  @fault:reader_reboot
  Scenario: A smart reader stores a payment while its internet is down, reboots, and forwards it once it is back
    Given a rig with a Stripe Reader S700
    When the reader's internet goes down
    And the customer pays 7.00 USD as "soup"
    And the reader reboots
    And the reader's internet comes back
    Then the history has a "backend.charge.succeeded" event with amount "7.00 USD" after the last fault clears within 3 minutes
