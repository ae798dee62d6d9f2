Feature: android-485, forwarding stalls until the app restarts

  In the field: "payments collected offline; network returns". They were
  forwarded late or never until the app restarted, and there is no way to
  force a sync. The queue must drain on its own once the network is back.

  @incident @source:android-485 @defect:forward-stalls-until-restart
  Scenario: Stored payments drain once the network returns, without an app restart
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name   | amount    |
      | pizza  | 21.00 USD |
      | salad  | 9.50 USD  |
    And 20 minutes pass
    And the internet comes back
    Then "pizza" is forwarded within 5 minutes
    And "salad" is forwarded within 5 minutes
    And the backend holds 1 charge for "pizza"
    And the backend holds 1 charge for "salad"
    And the history has no "fault.injected" event with kind "app_kill"
