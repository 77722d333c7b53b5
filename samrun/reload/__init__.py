"""Hot reload: diff two app graphs (`diff`), reconcile a running App with the new one (`apply`),
check an edit before taking it (`check`), and the watch-mode loop that ties them together
(`session`)."""
