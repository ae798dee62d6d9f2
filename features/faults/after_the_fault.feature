Feature: What must happen once a fault clears, and how soon
  Promises about order and time: a stored payment is forwarded after the
  internet comes back and within a bound of it, not merely "eventually";
  events are matched on their amount (in minor units, or as a step writes
  an amount); and a step can let less than a second pass.

  @fault:link_down
  Scenario: A payment stored while the internet is down is forwarded within 2 minutes of its return
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 5.00 USD as "tea"
    Then "tea" is stored offline
    And the history has a "offline.payment.stored" event with amount "500"
    And the history has a "offline.payment.stored" event with amount "5.00 USD"
    And the history has no "offline.payment.stored" event with amount "5.01 USD"
    When 250 milliseconds pass
    And the internet comes back
    Then the history has a "offline.payment.forwarded" event with amount "500" after the last fault clears within 2 minutes
    And the backend holds 1 charge for "tea"

  @fault:link_down
  Scenario: Time runs to a forward in flight, the internet drops under it, and it is charged once; a phase that never comes lets the scenario go on
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 6.00 USD as "bagel"
    When the internet comes back
    And time passes until the SDK is forwarding "bagel", at most 2 minutes
    And the internet goes down
    And 1 minute passes
    And the internet comes back
    Then "bagel" is forwarded within 5 minutes
    And the backend holds 1 charge for "bagel"
    When the customer starts paying 4.00 USD as "scone"
    And time passes until the SDK has stored "scone", at most 20 seconds
    Then "scone" succeeds online
    And the history has no "offline.payment.stored" event with payment "scone"
