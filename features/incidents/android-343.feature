Feature: android-343, connecting on a low and a critical battery

  In the field: "connect at ~10 % battery; at ~5 % discover", which gave a
  warning, then connect and discover never finished. A low battery warns and
  still works; a critical one refuses the connect with a clear error, and
  charging brings the reader back.

  @incident @source:android-343
  Scenario: A low battery warns, a critical battery refuses the connect, charging recovers
    Given a rig with a Stripe Reader M2
    When the customer pays 8.00 USD as "at ten"
    Then "at ten" succeeds online
    When the reader's battery reads 10%
    Then the history has a "reader.battery.low" event with percent "10"
    When the customer pays 8.00 USD as "still at ten"
    Then "still at ten" succeeds online
    When the reader's battery reads 4%
    Then the reader is not connected
    And the history has a "reader.disconnected" event with reason "critically_low_battery"
    When the customer starts paying 8.00 USD as "at four"
    And 2 minutes pass
    Then the history has a "reader.connect.failed" event with code "READER_BATTERY_CRITICALLY_LOW"
    When the reader's battery reads 30% while charging
    Then the reader is connected within 2 minutes
    When 2 minutes pass
    Then "at four" succeeds online
