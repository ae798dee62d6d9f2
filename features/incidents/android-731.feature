Feature: android-731, stored payments lost when the app is upgraded

  In the field: "unforwarded payments stored by an old SDK version; app
  upgraded; store migration fails; recovery drops and recreates the tables".
  The stored payments were silently gone. The upgraded app must migrate the
  old store format and forward every payment in it.

  @incident @source:android-731 @defect:store-lost-on-upgrade
  Scenario: Payments stored by the old app version are forwarded by the new one
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name  | amount    |
      | bread | 4.00 USD  |
      | wine  | 18.00 USD |
    And the app on the POS is upgraded from the version with the old store format
    Then the history has a "offline.store.recovered" event with pending "2"
    And the POS reports 2 stored payments
    When the internet comes back
    Then "bread" is forwarded within 5 minutes
    And "wine" is forwarded within 5 minutes
    And the backend holds 1 charge for "bread"
    And the backend holds 1 charge for "wine"
