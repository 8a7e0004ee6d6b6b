"""Study files shipped with prefstudy (installed as ``prefstudy.studies``): the demo and the paper's protocol."""
