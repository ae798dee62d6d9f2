Feature: android-141, a required update on a battery under 50 %

  In the field: "required update with battery under 50 % (even charging)";
  the update failed and the reader was disconnected. The update must fail with
  the documented battery code, and install once the battery allows.

  @incident @source:android-141
  Scenario: A required update fails clearly on a low battery and installs once charged
    Given a rig with a Stripe Reader M2
    When the customer pays 5.00 USD as "before update"
    Then "before update" succeeds online
    When the reader's battery reads 30% while charging
    And the reader is offered a required update
    And the reader reboots
    Then the history has a "reader.update.failed" event with code "READER_SOFTWARE_UPDATE_FAILED_BATTERY_LOW" within 2 minutes
    And the reader is not connected
    When the reader's battery reads 80% while charging
    And the customer pays 12.00 USD as "after update"
    Then the history has a "reader.update.installed" event
    And "after update" succeeds online
