@fault:battery
Feature: The reader's battery runs low
  Battery bands: critical at 5 % or less, low from 5 to 20 %, nominal above
  (docs/domain.md §7). A low battery is reported and payments go on; a
  critically low one disconnects the reader, which is not reconnected until
  it is charged.

  Scenario: A low battery is reported and payments go on
    Given a rig with a BBPOS WisePad 3
    Then the reader is connected within 1 minute
    When the reader's battery reads 15%
    Then the history has a "reader.battery.low" event within 1 minute
    When the customer pays 5.00 USD as "card"
    Then "card" succeeds online

  Scenario: A critically low battery disconnects the reader until it charges
    Given a rig with a Stripe Reader M2
    Then the reader is connected within 1 minute
    When the reader's battery reads 4%
    Then the history has a "reader.disconnected" event with reason "critically_low_battery" within 1 minute
    And the reader is not connected
    When the reader's battery reads 60% while charging
    And the customer pays 5.00 USD as "card"
    Then "card" succeeds online
    And the reader is connected

  Scenario: A critically low battery while offline keeps the stored payments
    Given a rig with a BBPOS Chipper 2X BT
    When the internet goes down
    And the customer pays 5.00 USD as "card"
    And the reader's battery reads 3%
    And the internet comes back
    Then "card" is forwarded within 5 minutes
    And the backend holds 1 charge for "card"
