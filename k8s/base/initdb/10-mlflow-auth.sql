-- MLflow's basic-auth app keeps users and permissions in its own database (see secrets/basic_auth.ini).
CREATE DATABASE mlflow_auth OWNER mlflow;
