Feature: rn-1095, reconnecting after the 24-hour security reboot

  In the field, on a BBPOS WisePad 3: "auto-reconnect on; reader's 24 h
  security reboot", after which the reconnect always failed with Bluetooth
  disconnected, even after an app restart. The reader must come back on its
  own and nothing stored may be lost.

  @incident @source:rn-1095
  Scenario: The WisePad 3 reconnects after its security reboot with a payment waiting
    Given a rig with a BBPOS WisePad 3
    When the reader's battery reads 100% while charging
    And 23 hours pass
    And the internet goes down
    And the customer pays 19.00 USD as "late order"
    Then "late order" is stored offline
    When 2 hours pass
    Then the history has a "reader.disconnected" event with reason "security_reboot"
    And the history has a "reader.reconnect.succeeded" event
    And the reader is connected
    When the internet comes back
    Then "late order" is forwarded within 5 minutes
    And the backend holds 1 charge for "late order"
