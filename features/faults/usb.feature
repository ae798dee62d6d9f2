@fault:usb_detach
Feature: The USB cable of a mobile reader is pulled
  On Android the M2 and WisePad 3 can be reached over USB. Pulling the cable
  disconnects the reader with usb_disconnected and auto-reconnect follows
  (docs/domain.md §7).

  Scenario: The USB cable is pulled and plugged back in
    Given a rig with a Stripe Reader M2
    And the POS reaches its reader over USB
    Then the reader is connected within 1 minute
    When the USB cable of the reader is pulled
    Then the history has a "reader.disconnected" event with reason "usb_disconnected" within 1 minute
    When the USB cable of the reader is plugged back in
    Then the reader is connected within 3 minutes
    When the customer pays 8.25 USD as "cable"
    Then "cable" succeeds online

  Scenario: Stored payments are forwarded while the cable is out
    Given a rig with a BBPOS WisePad 3
    And the POS reaches its reader over USB
    When the internet goes down
    And the customer pays 8.25 USD as "cable"
    And the USB cable of the reader is pulled
    And the internet comes back
    Then "cable" is forwarded within 5 minutes
    When the USB cable of the reader is plugged back in
    Then the reader is connected within 3 minutes
