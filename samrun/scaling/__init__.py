"""Application Auto Scaling of Lambda provisioned concurrency: scalable targets, target tracking
policies and scheduled actions, from the template and from the Application Auto Scaling API of
the AWS endpoint, run on samrun's own metrics and instances."""
