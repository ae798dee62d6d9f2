Feature: ios-276, connecting after the Bluetooth radio was off

  In the field: "connected; Bluetooth off; Bluetooth on; discover; connect",
  and the connect failed until the app restarted. Once the radio is back on,
  the reader must connect again without an app restart.

  @incident @source:ios-276
  Scenario: The reader connects again after the POS's radio is switched off and on
    Given a rig with a Stripe Reader M2
    When the customer pays 3.50 USD as "first"
    Then "first" succeeds online
    When the POS's Bluetooth radio is switched off
    Then the reader is not connected
    And the history has a "reader.disconnected" event with reason "bluetooth_disabled"
    When 30 seconds pass
    And the POS's Bluetooth radio is switched on
    And the customer pays 3.50 USD as "second"
    Then the reader is connected
    And "second" succeeds online
    And the history has no "fault.injected" event with kind "app_kill"
