Feature: Offline collect then forward over Bluetooth, with the signal lost mid-collect
  A mobile reader's link to the POS is Bluetooth LE. On the served target run
  with `--ble tcp` or `--ble bluez`, every command the SDK sends and every
  event the reader reports crosses a real carrier through the reader protocol
  (docs/ble-gatt.md); a lost signal drops the connection and the POS
  reconnects by itself when it returns. The payment being collected when the
  signal goes is lost and charged nowhere; payments stored before and after
  are forwarded once the internet returns.

  @fault:signal_lost
  Scenario Outline: The signal is lost mid-collect on a <reader>; it reconnects and everything stored is forwarded
    Given a rig with a <reader>
    Then the reader is connected within 1 minute
    When the internet goes down
    And the customer pays 12.50 USD as "coffee"
    Then "coffee" is stored offline
    When the customer starts paying 7.50 USD as "socks"
    And the reader is collecting "socks"
    And the Bluetooth signal of the reader is lost
    Then the history has a "reader.payment.failed" event with code "BLUETOOTH_DISCONNECTED"
    And the history has a "reader.reconnect.started" event with reason "bluetooth_signal_lost"
    When 20 seconds pass
    And the Bluetooth signal of the reader is back
    Then the reader is connected within 2 minutes
    When the customer pays 9.00 USD as "socks again"
    Then "socks again" is stored offline
    When the internet comes back
    Then "coffee" is forwarded within 5 minutes
    And "socks again" is forwarded within 5 minutes
    And the backend holds 1 charge for "coffee"
    And the backend holds 1 charge for "socks again"
    And the backend holds 0 charges for "socks"

    Examples:
      | reader           |
      | Stripe Reader M2 |
      | BBPOS WisePad 3  |
