Feature: Bluetooth between the POS and a mobile reader
  Switching the POS's radio off disconnects the reader with
  bluetooth_disabled and is not auto-reconnected; a lost signal
  (bluetooth_signal_lost) is (docs/domain.md §7). Stored payments live on the
  POS, so neither touches them.

  @fault:bluetooth_radio_off
  Scenario: The POS's Bluetooth radio is switched off, then on again
    Given a rig with a Stripe Reader M2
    Then the reader is connected within 1 minute
    When the POS's Bluetooth radio is switched off
    Then the history has a "reader.disconnected" event with reason "bluetooth_disabled" within 1 minute
    And the history has no "reader.reconnect.started" event with reason "bluetooth_disabled"
    When the POS's Bluetooth radio is switched on
    And the customer pays 7.50 USD as "socks"
    Then "socks" succeeds online
    And the reader is connected

  @fault:bluetooth_radio_off
  Scenario: Payments stored before the radio goes off are forwarded anyway
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 7.50 USD as "socks"
    And the POS's Bluetooth radio is switched off
    And the internet comes back
    Then "socks" is forwarded within 5 minutes
    When the POS's Bluetooth radio is switched on
    And the customer pays 8.00 USD as "shirt"
    Then "shirt" succeeds online

  @fault:signal_lost
  Scenario: The Bluetooth signal is lost and comes back: the reader reconnects
    Given a rig with a BBPOS Chipper 2X BT
    Then the reader is connected within 1 minute
    When the Bluetooth signal of the reader is lost
    Then the history has a "reader.disconnected" event with reason "bluetooth_signal_lost" within 1 minute
    And the history has a "reader.reconnect.started" event with reason "bluetooth_signal_lost"
    When the Bluetooth signal of the reader is back
    Then the reader is connected within 3 minutes
    When the customer pays 7.50 USD as "socks"
    Then "socks" succeeds online

  @fault:signal_lost
  Scenario: The Bluetooth signal is lost while the reader is collecting
    Given a rig with a Stripe Reader M2
    When the customer starts paying 7.50 USD as "socks"
    And the reader is collecting "socks"
    And the Bluetooth signal of the reader is lost
    Then the history has a "reader.payment.failed" event with code "BLUETOOTH_DISCONNECTED"
    When 20 seconds pass
    And the Bluetooth signal of the reader is back
    Then the reader is connected within 2 minutes
    And the backend holds 0 charges for "socks"
    When the customer pays 7.50 USD as "socks again"
    Then "socks again" succeeds online
